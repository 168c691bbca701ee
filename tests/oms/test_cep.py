"""Placing a CEP on the map from the Correios ranges, without a network."""

from __future__ import annotations

import itertools
import math

import pytest

from oms import cep as cep_module
from oms.cep import CAPITALS, cep_city, cep_state, cep_to_point


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))


@pytest.mark.parametrize(
    ("cep", "state"),
    [
        ("01310-200", "SP"),
        ("19999999", "SP"),
        ("20040020", "RJ"),
        ("29050-902", "ES"),
        ("30130-010", "MG"),
        ("40015-970", "BA"),
        ("49010-000", "SE"),
        ("50030-230", "PE"),
        ("57020-000", "AL"),
        ("58010-000", "PB"),
        ("59015-900", "RN"),
        ("60165-081", "CE"),
        ("64000-020", "PI"),
        ("65010-000", "MA"),
        ("66053-000", "PA"),
        ("68900-000", "AP"),
        ("69057-002", "AM"),
        ("69301-000", "RR"),
        ("69400-000", "AM"),
        ("69900-000", "AC"),
        ("70040-010", "DF"),
        ("72800-000", "GO"),
        ("73000-000", "DF"),
        ("74810-907", "GO"),
        ("76801-000", "RO"),
        ("77001-000", "TO"),
        ("78050-000", "MT"),
        ("79031-900", "MS"),
        ("80530-000", "PR"),
        ("88015-530", "SC"),
        ("91340-000", "RS"),
        ("99999-999", "RS"),
    ],
)
def test_cep_state_follows_the_correios_ranges(cep: str, state: str) -> None:
    assert cep_state(cep) == state


@pytest.mark.parametrize(
    ("cep", "city", "near"),
    [
        ("01310-200", "São Paulo", (-23.5614, -46.6559)),  # Av. Paulista
        ("08290-000", "São Paulo", (-23.54, -46.47)),  # Itaquera, the 08000-08499 range of the capital
        ("07034-911", "Guarulhos", (-23.47, -46.55)),
        ("09190-210", "Santo André", (-23.66, -46.53)),
        ("13092-902", "Campinas", (-22.89, -47.03)),
        ("11025-202", "Santos", (-23.97, -46.31)),
        ("22640-102", "Rio de Janeiro", (-23.00, -43.36)),  # Barra da Tijuca
        ("24020-125", "Niterói", (-22.90, -43.12)),
        ("30180-112", "Belo Horizonte", (-19.93, -43.94)),
        ("80530-000", "Curitiba", (-25.42, -49.27)),
        ("91340-000", "Porto Alegre", (-30.03, -51.16)),
        ("41820-000", "Salvador", (-12.98, -38.46)),
        ("51020-900", "Recife", (-8.12, -34.90)),
        ("60811-341", "Fortaleza", (-3.76, -38.49)),
        ("70077-900", "Brasília", (-15.79, -47.88)),
        ("74810-907", "Goiânia", (-16.71, -49.24)),
        ("69057-002", "Manaus", (-3.10, -60.01)),
        ("66053-000", "Belém", (-1.45, -48.49)),
        ("88015-530", "Florianópolis", (-27.59, -48.55)),
        ("29050-902", "Vitória", (-20.31, -40.29)),
        ("59015-900", "Natal", (-5.81, -35.21)),
    ],
)
def test_big_cities_are_placed_at_the_city(cep: str, city: str, near: tuple[float, float]) -> None:
    point = cep_to_point(cep)
    assert point is not None
    assert cep_city(cep) == city
    assert _km(point, near) < 25


@pytest.mark.parametrize(
    ("cep", "state"),
    [
        ("16400-000", "SP"),  # Lins: interior of São Paulo, no range of its own
        ("39400-000", "MG"),  # Montes Claros
        ("47800-000", "BA"),  # Barreiras
        ("85501-000", "PR"),  # Pato Branco
        ("98700-000", "RS"),  # Ijuí
        ("68500-000", "PA"),  # Marabá
    ],
)
def test_other_ceps_fall_back_to_the_state_capital(cep: str, state: str) -> None:
    capital, lat, lon = CAPITALS[state]
    assert cep_state(cep) == state
    assert cep_city(cep) == capital
    assert cep_to_point(cep) == (lat, lon)


@pytest.mark.parametrize(
    "cep",
    [
        "",
        "0131020",
        "013102000",
        "01310-20a",
        "abcdefgh",
        "00000000",
        "00999-999",
        "01310/200",
        None,
        1310200,
    ],
)
def test_invalid_or_unknown_ceps_answer_none(cep: object) -> None:
    assert cep_to_point(cep) is None  # type: ignore[arg-type]
    assert cep_state(cep) is None  # type: ignore[arg-type]


def test_separators_are_accepted() -> None:
    assert cep_to_point("01310-200") == cep_to_point("01310200") == cep_to_point("01.310-200")


def test_city_ranges_sit_inside_their_state_and_never_overlap() -> None:
    cities = sorted(cep_module._CITY_RANGES)
    for (start, end, *_), (next_start, *_) in itertools.pairwise(cities):
        assert end < next_start, f"{start}-{end} overlaps {next_start}"
    for start, end, city, lat, lon in cities:
        state = cep_state(f"{start:05d}000")
        assert state is not None and cep_state(f"{end:05d}999") == state, city
        # A city is within ~1,000 km of its state capital: catches a range filed under the wrong state.
        assert _km((lat, lon), CAPITALS[state][1:]) < 1000, city


def test_a_state_is_one_of_the_27_ufs_the_cep_table_knows():
    from django.core.exceptions import ValidationError

    from oms.brazil import normalize_uf

    assert normalize_uf(" df ") == "DF" and normalize_uf("SP") == "SP"
    for bad in ("ZZ", "", "S", "SPP"):
        with pytest.raises(ValidationError):
            normalize_uf(bad)
