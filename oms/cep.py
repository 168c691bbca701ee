"""Placing a Brazilian CEP on the map without a network call.

Correios hands out CEPs in ranges: the first five digits name a state (UF), and within a state the big cities
and metro areas have ranges of their own. `cep_to_point` answers the coordinates of the city a CEP belongs to
(or, outside the listed cities, of its state capital): good enough to measure distances from a location to a
customer, which is all routing needs when an order arrives without lat/lon. Pure Python data, no I/O.
"""

from __future__ import annotations

import re
from bisect import bisect_right

_SEPARATORS = re.compile(r"[\s.\-]")
_EIGHT_DIGITS = re.compile(r"\d{8}")

# (first 5 digits from, to (inclusive), UF) — the Correios ranges per state.
_STATE_RANGES: tuple[tuple[int, int, str], ...] = (
    (1000, 19999, "SP"),
    (20000, 28999, "RJ"),
    (29000, 29999, "ES"),
    (30000, 39999, "MG"),
    (40000, 48999, "BA"),
    (49000, 49999, "SE"),
    (50000, 56999, "PE"),
    (57000, 57999, "AL"),
    (58000, 58999, "PB"),
    (59000, 59999, "RN"),
    (60000, 63999, "CE"),
    (64000, 64999, "PI"),
    (65000, 65999, "MA"),
    (66000, 68899, "PA"),
    (68900, 68999, "AP"),
    (69000, 69299, "AM"),
    (69300, 69399, "RR"),
    (69400, 69899, "AM"),
    (69900, 69999, "AC"),
    (70000, 72799, "DF"),
    (72800, 72999, "GO"),
    (73000, 73699, "DF"),
    (73700, 76799, "GO"),
    (76800, 76999, "RO"),
    (77000, 77999, "TO"),
    (78000, 78899, "MT"),
    (79000, 79999, "MS"),
    (80000, 87999, "PR"),
    (88000, 89999, "SC"),
    (90000, 99999, "RS"),
)

# State capital per UF: (city, lat, lon). The answer for a CEP outside every listed city range.
CAPITALS: dict[str, tuple[str, float, float]] = {
    "AC": ("Rio Branco", -9.9754, -67.8249),
    "AL": ("Maceió", -9.6658, -35.7353),
    "AM": ("Manaus", -3.1190, -60.0217),
    "AP": ("Macapá", 0.0349, -51.0694),
    "BA": ("Salvador", -12.9777, -38.5016),
    "CE": ("Fortaleza", -3.7319, -38.5267),
    "DF": ("Brasília", -15.7939, -47.8828),
    "ES": ("Vitória", -20.3155, -40.3128),
    "GO": ("Goiânia", -16.6869, -49.2648),
    "MA": ("São Luís", -2.5307, -44.3068),
    "MG": ("Belo Horizonte", -19.9167, -43.9345),
    "MS": ("Campo Grande", -20.4697, -54.6201),
    "MT": ("Cuiabá", -15.6014, -56.0979),
    "PA": ("Belém", -1.4558, -48.4902),
    "PB": ("João Pessoa", -7.1195, -34.8450),
    "PE": ("Recife", -8.0476, -34.8770),
    "PI": ("Teresina", -5.0892, -42.8019),
    "PR": ("Curitiba", -25.4284, -49.2733),
    "RJ": ("Rio de Janeiro", -22.9068, -43.1729),
    "RN": ("Natal", -5.7945, -35.2110),
    "RO": ("Porto Velho", -8.7612, -63.9004),
    "RR": ("Boa Vista", 2.8235, -60.6758),
    "RS": ("Porto Alegre", -30.0346, -51.2177),
    "SC": ("Florianópolis", -27.5954, -48.5480),
    "SE": ("Aracaju", -10.9472, -37.0731),
    "SP": ("São Paulo", -23.5505, -46.6333),
    "TO": ("Palmas", -10.2491, -48.3243),
}

# (first 5 digits from, to (inclusive), city, lat, lon) — cities and metro areas with ranges of their own.
_CITY_RANGES: tuple[tuple[int, int, str, float, float], ...] = (
    # São Paulo: the capital, Grande SP, the coast and the interior's big cities
    (1000, 5999, "São Paulo", -23.5505, -46.6333),
    (6000, 6299, "Osasco", -23.5325, -46.7917),
    (6300, 6399, "Carapicuíba", -23.5235, -46.8407),
    (6400, 6499, "Barueri", -23.5057, -46.8790),
    (6500, 6549, "Santana de Parnaíba", -23.4439, -46.9178),
    (6700, 6729, "Cotia", -23.6022, -46.9192),
    (6750, 6799, "Taboão da Serra", -23.6019, -46.7526),
    (6800, 6849, "Embu das Artes", -23.6437, -46.8579),
    (7000, 7399, "Guarulhos", -23.4538, -46.5333),
    (7400, 7499, "Arujá", -23.3965, -46.3211),
    (7700, 7749, "Caieiras", -23.3607, -46.7397),
    (7750, 7799, "Cajamar", -23.3560, -46.8770),
    (7800, 7899, "Franco da Rocha", -23.3229, -46.7290),
    (8000, 8499, "São Paulo", -23.5505, -46.6333),
    (8500, 8549, "Ferraz de Vasconcelos", -23.5411, -46.3710),
    (8550, 8599, "Itaquaquecetuba", -23.4835, -46.3457),
    (8600, 8699, "Suzano", -23.5425, -46.3108),
    (8700, 8899, "Mogi das Cruzes", -23.5208, -46.1854),
    (9000, 9299, "Santo André", -23.6639, -46.5383),
    (9300, 9399, "Mauá", -23.6677, -46.4613),
    (9500, 9599, "São Caetano do Sul", -23.6229, -46.5548),
    (9600, 9899, "São Bernardo do Campo", -23.6914, -46.5646),
    (9900, 9999, "Diadema", -23.6813, -46.6205),
    (11000, 11099, "Santos", -23.9608, -46.3336),
    (11300, 11399, "São Vicente", -23.9631, -46.3919),
    (11400, 11499, "Guarujá", -23.9888, -46.2580),
    (11700, 11729, "Praia Grande", -24.0058, -46.4028),
    (12200, 12249, "São José dos Campos", -23.1896, -45.8841),
    (13000, 13139, "Campinas", -22.9056, -47.0608),
    (13200, 13219, "Jundiaí", -23.1857, -46.8978),
    (13400, 13429, "Piracicaba", -22.7338, -47.6476),
    (14000, 14114, "Ribeirão Preto", -21.1704, -47.8103),
    (15000, 15099, "São José do Rio Preto", -20.8113, -49.3758),
    (17000, 17109, "Bauru", -22.3246, -49.0871),
    (18000, 18109, "Sorocaba", -23.5015, -47.4526),
    # Rio de Janeiro
    (20000, 23799, "Rio de Janeiro", -22.9068, -43.1729),
    (24000, 24399, "Niterói", -22.8832, -43.1034),
    (24400, 24799, "São Gonçalo", -22.8268, -43.0634),
    (25000, 25299, "Duque de Caxias", -22.7858, -43.3117),
    (25500, 25599, "São João de Meriti", -22.8058, -43.3729),
    (25600, 25799, "Petrópolis", -22.5112, -43.1779),
    (26000, 26099, "Nova Iguaçu", -22.7592, -43.4510),
    (26100, 26199, "Belford Roxo", -22.7640, -43.3995),
    (26200, 26299, "Nova Iguaçu", -22.7592, -43.4510),
    (27200, 27299, "Volta Redonda", -22.5202, -44.0996),
    (28000, 28099, "Campos dos Goytacazes", -21.7545, -41.3244),
    # Espírito Santo
    (29000, 29099, "Vitória", -20.3155, -40.3128),
    (29100, 29129, "Vila Velha", -20.3417, -40.2875),
    (29140, 29159, "Cariacica", -20.2632, -40.4165),
    (29160, 29184, "Serra", -20.1211, -40.3074),
    # Minas Gerais
    (30000, 31999, "Belo Horizonte", -19.9167, -43.9345),
    (32000, 32399, "Contagem", -19.9321, -44.0539),
    (32500, 32699, "Betim", -19.9678, -44.1983),
    (36000, 36099, "Juiz de Fora", -21.7642, -43.3496),
    (38400, 38415, "Uberlândia", -18.9186, -48.2772),
    # Bahia
    (40000, 42599, "Salvador", -12.9777, -38.5016),
    (42700, 42749, "Lauro de Freitas", -12.8978, -38.3271),
    (42800, 42849, "Camaçari", -12.6996, -38.3263),
    (44000, 44099, "Feira de Santana", -12.2664, -38.9663),
    (45000, 45099, "Vitória da Conquista", -14.8615, -40.8442),
    # Sergipe, Alagoas, Paraíba, Rio Grande do Norte
    (49000, 49098, "Aracaju", -10.9472, -37.0731),
    (57000, 57099, "Maceió", -9.6658, -35.7353),
    (58000, 58099, "João Pessoa", -7.1195, -34.8450),
    (58400, 58449, "Campina Grande", -7.2307, -35.8811),
    (59000, 59139, "Natal", -5.7945, -35.2110),
    (59140, 59161, "Parnamirim", -5.9116, -35.2629),
    (59600, 59649, "Mossoró", -5.1877, -37.3441),
    # Pernambuco
    (50000, 52999, "Recife", -8.0476, -34.8770),
    (53000, 53399, "Olinda", -8.0089, -34.8553),
    (53400, 53499, "Paulista", -7.9408, -34.8728),
    (54000, 54499, "Jaboatão dos Guararapes", -8.1130, -35.0150),
    (54500, 54599, "Cabo de Santo Agostinho", -8.2869, -35.0353),
    (55000, 55099, "Caruaru", -8.2760, -35.9819),
    (56300, 56339, "Petrolina", -9.3986, -40.5008),
    # Ceará, Piauí, Maranhão
    (60000, 61599, "Fortaleza", -3.7319, -38.5267),
    (61600, 61699, "Caucaia", -3.7361, -38.6531),
    (61900, 61939, "Maracanaú", -3.8766, -38.6256),
    (63000, 63099, "Juazeiro do Norte", -7.2128, -39.3151),
    (64000, 64099, "Teresina", -5.0892, -42.8019),
    (65000, 65109, "São Luís", -2.5307, -44.3068),
    # Norte
    (66000, 66999, "Belém", -1.4558, -48.4902),
    (67000, 67199, "Ananindeua", -1.3656, -48.3722),
    (68900, 68914, "Macapá", 0.0349, -51.0694),
    (69000, 69099, "Manaus", -3.1190, -60.0217),
    (69300, 69339, "Boa Vista", 2.8235, -60.6758),
    (69900, 69923, "Rio Branco", -9.9754, -67.8249),
    (76800, 76834, "Porto Velho", -8.7612, -63.9004),
    (77000, 77270, "Palmas", -10.2491, -48.3243),
    # Centro-Oeste
    (70000, 72799, "Brasília", -15.7939, -47.8828),
    (73000, 73699, "Brasília", -15.7939, -47.8828),
    (74000, 74899, "Goiânia", -16.6869, -49.2648),
    (74900, 74999, "Aparecida de Goiânia", -16.8198, -49.2469),
    (75000, 75159, "Anápolis", -16.3281, -48.9530),
    (78000, 78099, "Cuiabá", -15.6014, -56.0979),
    (78110, 78159, "Várzea Grande", -15.6458, -56.1322),
    (79000, 79129, "Campo Grande", -20.4697, -54.6201),
    # Paraná
    (80000, 82999, "Curitiba", -25.4284, -49.2733),
    (83000, 83129, "São José dos Pinhais", -25.5313, -49.2031),
    (83400, 83419, "Colombo", -25.2917, -49.2262),
    (84000, 84099, "Ponta Grossa", -25.0916, -50.1668),
    (85800, 85829, "Cascavel", -24.9555, -53.4552),
    (85850, 85869, "Foz do Iguaçu", -25.5478, -54.5882),
    (86000, 86099, "Londrina", -23.3045, -51.1696),
    (87000, 87099, "Maringá", -23.4210, -51.9331),
    # Santa Catarina
    (88000, 88099, "Florianópolis", -27.5954, -48.5480),
    (88100, 88124, "São José", -27.6136, -48.6366),
    (88130, 88139, "Palhoça", -27.6455, -48.6697),
    (88300, 88319, "Itajaí", -26.9101, -48.6705),
    (88330, 88339, "Balneário Camboriú", -26.9926, -48.6352),
    (88800, 88819, "Criciúma", -28.6775, -49.3697),
    (89000, 89099, "Blumenau", -26.9194, -49.0661),
    (89200, 89239, "Joinville", -26.3045, -48.8487),
    (89800, 89816, "Chapecó", -27.1004, -52.6152),
    # Rio Grande do Sul
    (90000, 91999, "Porto Alegre", -30.0346, -51.2177),
    (92000, 92499, "Canoas", -29.9178, -51.1839),
    (93000, 93179, "São Leopoldo", -29.7545, -51.1498),
    (93300, 93599, "Novo Hamburgo", -29.6783, -51.1309),
    (94000, 94299, "Gravataí", -29.9440, -50.9931),
    (94400, 94799, "Viamão", -30.0811, -51.0233),
    (95000, 95129, "Caxias do Sul", -29.1678, -51.1794),
    (96000, 96099, "Pelotas", -31.7654, -52.3376),
    (97000, 97119, "Santa Maria", -29.6868, -53.8149),
)

_STATE_STARTS = [start for start, _, _ in _STATE_RANGES]
_CITIES_SORTED = sorted(_CITY_RANGES)
_CITY_STARTS = [row[0] for row in _CITIES_SORTED]


def _prefix(cep: str) -> int | None:
    """The first five digits of a well-formed CEP ('01310-200', '01310200', '01.310-200'), else None."""
    if not isinstance(cep, str):
        return None
    cleaned = _SEPARATORS.sub("", cep)
    if not _EIGHT_DIGITS.fullmatch(cleaned) or cleaned == "00000000":
        return None
    return int(cleaned[:5])


def _state_of(prefix: int) -> str | None:
    i = bisect_right(_STATE_STARTS, prefix) - 1
    if i >= 0 and prefix <= _STATE_RANGES[i][1]:
        return _STATE_RANGES[i][2]
    return None


def _city_of(prefix: int) -> tuple[str, float, float] | None:
    i = bisect_right(_CITY_STARTS, prefix) - 1
    if i >= 0 and prefix <= _CITIES_SORTED[i][1]:
        _, _, city, lat, lon = _CITIES_SORTED[i]
        return city, lat, lon
    return None


def cep_state(cep: str) -> str | None:
    """The state (UF, e.g. 'SP') a CEP belongs to; None for a malformed CEP or one outside every range."""
    prefix = _prefix(cep)
    return None if prefix is None else _state_of(prefix)


def cep_city(cep: str) -> str | None:
    """The city a CEP is placed in: its own city when listed, else its state capital; None when unknown."""
    placed = _place(cep)
    return None if placed is None else placed[0]


def _place(cep: str) -> tuple[str, float, float] | None:
    prefix = _prefix(cep)
    if prefix is None:
        return None
    state = _state_of(prefix)
    if state is None:
        return None
    return _city_of(prefix) or CAPITALS[state]


def cep_to_point(cep: str) -> tuple[float, float] | None:
    """Approximate (lat, lon) of a CEP: its city's centre when the city has its own range, else its state
    capital's. None for a malformed CEP or one outside every Correios range."""
    placed = _place(cep)
    return None if placed is None else (placed[1], placed[2])
