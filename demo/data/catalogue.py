"""The demo catalogue: fashion and accessories, generated as category × model × colour × size.

Each category carries its SKU prefix, grammatical gender (colours agree in Portuguese), sizes, a price band
and the weight and box of one unit. SKU codes read `<PREFIX>-<model-colour no.>-<size>`, e.g. `CAM-0001-P`
(Camiseta básica preta, size P).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

APPAREL = ("P", "M", "G", "GG")
SHOES = tuple(str(n) for n in range(34, 45))
WOMEN_SHOES = tuple(str(n) for n in range(34, 41))
JEANS = ("36", "38", "40", "42", "44", "46")
SHORTS = ("38", "40", "42", "44", "46", "48")
ONE_SIZE = ("U",)

# How often each size sells relative to the others in its grid (the middle of the grid sells most).
SIZE_WEIGHT: dict[str, float] = {
    "U": 1.0,
    "P": 0.8,
    "M": 1.3,
    "G": 1.1,
    "GG": 0.5,
    # jeans, shorts and shoe numbers share one curve peaking around 38-40
    "34": 0.3,
    "35": 0.5,
    "36": 0.7,
    "37": 1.0,
    "38": 1.1,
    "39": 1.0,
    "40": 1.1,
    "41": 0.9,
    "42": 0.9,
    "43": 0.6,
    "44": 0.5,
    "46": 0.4,
    "48": 0.3,
}

# (masculine, feminine)
COLOURS: dict[str, tuple[str, str]] = {
    "preto": ("preto", "preta"),
    "branco": ("branco", "branca"),
    "azul-marinho": ("azul-marinho", "azul-marinho"),
    "cinza": ("cinza mescla", "cinza mescla"),
    "vermelho": ("vermelho", "vermelha"),
    "verde": ("verde-militar", "verde-militar"),
    "bege": ("bege", "bege"),
    "rosa": ("rosa", "rosa"),
    "amarelo": ("amarelo", "amarela"),
    "off-white": ("off-white", "off-white"),
    "caramelo": ("caramelo", "caramelo"),
    "vinho": ("vinho", "vinho"),
    "marrom": ("marrom", "marrom"),
    "lilas": ("lilás", "lilás"),
    "azul-claro": ("azul-claro", "azul-claro"),
    "azul-medio": ("azul médio", "azul médio"),
    "azul-escuro": ("azul-escuro", "azul-escuro"),
}


@dataclass(frozen=True)
class Category:
    prefix: str
    name: str
    feminine: bool
    models: tuple[str, ...]
    colours: tuple[str, ...]
    sizes: tuple[str, ...]
    price: tuple[Decimal, Decimal]  # the cheapest and the dearest model
    weight_g: int
    box_mm: tuple[int, int, int]  # length, width, height of one packed unit


def _d(value: str) -> Decimal:
    return Decimal(value)


CATEGORIES: tuple[Category, ...] = (
    Category(
        "CAM",
        "Camiseta",
        True,
        ("básica", "gola V", "estampada", "oversized", "polo", "manga longa", "regata", "dry fit"),
        ("preto", "branco", "azul-marinho", "cinza", "vermelho", "verde", "bege", "amarelo"),
        APPAREL,
        (_d("49.90"), _d("119.90")),
        220,
        (300, 250, 30),
    ),
    Category(
        "CJE",
        "Calça jeans",
        True,
        ("skinny", "reta", "mom", "wide leg", "slim", "bootcut"),
        ("azul-claro", "azul-medio", "azul-escuro", "preto", "cinza"),
        JEANS,
        (_d("149.90"), _d("249.90")),
        650,
        (350, 300, 50),
    ),
    Category(
        "TEN",
        "Tênis",
        False,
        ("casual", "de corrida", "skate", "cano alto", "slip-on", "chunky"),
        ("preto", "branco", "azul-marinho", "cinza", "off-white", "caramelo"),
        SHOES,
        (_d("199.90"), _d("449.90")),
        950,
        (330, 220, 120),
    ),
    Category(
        "VES",
        "Vestido",
        False,
        ("midi", "longo", "curto", "chemise", "tubinho", "envelope"),
        ("preto", "branco", "azul-marinho", "vermelho", "verde", "rosa", "lilas"),
        APPAREL,
        (_d("129.90"), _d("289.90")),
        380,
        (320, 260, 40),
    ),
    Category(
        "JAQ",
        "Jaqueta",
        True,
        ("jeans", "corta-vento", "puffer", "de couro sintético", "bomber"),
        ("preto", "azul-marinho", "verde", "caramelo", "bege"),
        APPAREL,
        (_d("199.90"), _d("399.90")),
        850,
        (400, 320, 80),
    ),
    Category(
        "MOC",
        "Mochila",
        True,
        ("escolar", "executiva", 'para notebook 15,6"', "de trilha 30 L"),
        ("preto", "azul-marinho", "cinza", "vermelho", "verde", "rosa"),
        ONE_SIZE,
        (_d("129.90"), _d("329.90")),
        700,
        (450, 320, 150),
    ),
    Category(
        "BON",
        "Boné",
        False,
        ("aba curva", "aba reta", "trucker", "dad hat"),
        ("preto", "branco", "azul-marinho", "bege", "vermelho", "verde"),
        ONE_SIZE,
        (_d("59.90"), _d("99.90")),
        120,
        (250, 200, 120),
    ),
    Category(
        "MEI",
        "Meia kit 3 pares",
        True,
        ("cano curto", "cano médio", "invisível", "esportiva"),
        ("preto", "branco", "cinza", "azul-marinho", "rosa"),
        ("P", "G"),
        (_d("29.90"), _d("49.90")),
        120,
        (200, 100, 30),
    ),
    Category(
        "BER",
        "Bermuda",
        True,
        ("de sarja", "de moletom", "jeans", "tactel"),
        ("preto", "azul-marinho", "bege", "cinza", "verde", "caramelo"),
        SHORTS,
        (_d("89.90"), _d("159.90")),
        380,
        (300, 250, 40),
    ),
    Category(
        "MOL",
        "Moletom",
        False,
        ("canguru", "careca", "com zíper", "cropped"),
        ("preto", "cinza", "azul-marinho", "off-white", "vinho", "verde"),
        APPAREL,
        (_d("149.90"), _d("229.90")),
        600,
        (350, 300, 60),
    ),
    Category(
        "CSO",
        "Camisa social",
        True,
        ("slim", "tradicional", "de linho", "xadrez", "oxford"),
        ("branco", "azul-claro", "preto", "rosa", "bege", "cinza"),
        APPAREL,
        (_d("129.90"), _d("219.90")),
        300,
        (320, 250, 40),
    ),
    Category(
        "SAI",
        "Saia",
        True,
        ("midi plissada", "jeans", "lápis", "evasê"),
        ("preto", "bege", "azul-marinho", "vinho", "caramelo", "off-white"),
        APPAREL,
        (_d("99.90"), _d("179.90")),
        280,
        (300, 250, 30),
    ),
    Category(
        "SAN",
        "Sandália",
        True,
        ("rasteira", "plataforma", "de salto bloco", "papete"),
        ("preto", "caramelo", "off-white", "marrom", "rosa"),
        WOMEN_SHOES,
        (_d("89.90"), _d("229.90")),
        500,
        (300, 200, 100),
    ),
    Category(
        "CIN",
        "Cinto",
        False,
        ("de couro", "casual", "social", "trançado"),
        ("preto", "marrom", "caramelo", "vinho"),
        ("P", "M", "G"),
        (_d("69.90"), _d("149.90")),
        180,
        (250, 150, 50),
    ),
    Category(
        "BLU",
        "Blusa",
        True,
        ("de tricô", "cropped", "ombro a ombro", "manga bufante", "básica"),
        ("preto", "branco", "off-white", "rosa", "lilas", "vermelho", "verde"),
        APPAREL,
        (_d("69.90"), _d("169.90")),
        250,
        (300, 250, 30),
    ),
    Category(
        "LEG",
        "Legging",
        True,
        ("fitness", "cintura alta", "estampada"),
        ("preto", "cinza", "azul-marinho", "vinho", "verde"),
        APPAREL,
        (_d("79.90"), _d("139.90")),
        230,
        (250, 200, 30),
    ),
    Category(
        "PIJ",
        "Pijama",
        False,
        ("curto", "longo", "americano"),
        ("azul-marinho", "rosa", "cinza", "lilas", "off-white"),
        APPAREL,
        (_d("99.90"), _d("179.90")),
        400,
        (300, 250, 50),
    ),
)

EAN_PREFIX = "7898421"  # 789 (GS1 Brasil) + a company number; the item number and check digit follow


def ean13(first12: str) -> str:
    """`first12` followed by its EAN-13 check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)
