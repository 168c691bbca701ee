"""Does the forecast's damped trend help? Its own check, with and without the trend, on a synthetic history.

Fills its own database (created and migrated if missing; its synthetic locations rewritten on every run)
with one location per kind of demand, 200 stock rows each and 70 days of shipments drawn from a Poisson law
(seeded: the same draws for the same weekday of the run; a week busier on Fridays and Saturdays):
- TR-FLAT: a steady 1 to 8 units a day; TR-NOISY: the same, each day's rate scattered (gamma, shape 2);
- TR-UP: rising steadily, 1.5 to 2.5 times over the 70 days; TR-DOWN: falling to 0.3 to 0.7 of its start;
- TR-STOP: rising as TR-UP until the two weeks checked, then flat (where a trend overshoots);
- TR-SPARSE: 0.02 to 0.12 units a day (a handful in eight weeks).
Then runs `forecast_refresh()` without the trend (TREND_MIN_UNITS set out of reach) and with it, and prints
for each location its check (`wape` per product and day, `bias`, `day_wape`: the last two weeks against the
forecast made before them), the error of the stored rates against the true rate of the coming week (what the
check stands in for), and the rows with a trend. Not a test.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/oms_bench_trend REDIS_URL=redis://127.0.0.1:6379/5 \\
        nice .venv/bin/python bench/forecast_trend.py
"""

from __future__ import annotations

import datetime as dt
import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oms.settings.production")
os.environ.setdefault("SECRET_KEY", "bench-" + "x" * 50)
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("ALLOWED_HOSTS", "*")
os.environ.setdefault("LOG_LEVEL", "WARNING")

ROWS = 200  # per location
DAYS = 70  # what the job reads: eight weeks of history and the two checked
WEEK = [0.85, 0.8, 0.85, 0.9, 1.2, 1.5, 0.9]  # Monday first: averages 1


def _rates(rng: random.Random) -> dict[str, tuple[Callable[[int], float], Callable[[int], float]]]:
    """Each location's rate of one row on the day `age` days before today (drawn afresh on each call) and its
    expected value."""
    base, grow, fall = rng.uniform(1, 8), rng.uniform(0.5, 1.5), rng.uniform(0.3, 0.7)
    sparse = rng.uniform(0.02, 0.12)
    up = lambda age: base * (1 + grow * (DAYS - age) / DAYS)  # noqa: E731
    down = lambda age: base * (1 - (1 - fall) * (DAYS - age) / DAYS)  # noqa: E731
    stop = lambda age: base * (1 + grow * (DAYS - max(age, 14)) / DAYS)  # noqa: E731
    return {
        "TR-FLAT": (lambda age: base, lambda age: base),
        "TR-NOISY": (lambda age: base * rng.gammavariate(2, 0.5), lambda age: base),
        "TR-UP": (up, up),
        "TR-DOWN": (down, down),
        "TR-STOP": (stop, stop),
        "TR-SPARSE": (lambda age: sparse, lambda age: sparse),
    }


def _poisson(rng: random.Random, rate: float) -> int:
    """Knuth's: fine for the rates here (under 30)."""
    limit, k, p = math.exp(-rate), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def fill() -> dict[str, dict[int, float]]:
    """The synthetic locations, rows and shipments (any earlier ones deleted first); returns each location's
    rows' true rate of the coming week (its expected rate averaged over the next seven days, the week's
    shape left out)."""
    from django.db import transaction
    from django.utils import timezone

    from inventory.models import (
        DemandForecast,
        Location,
        LocationDemandProfile,
        MovementKind,
        Product,
        StockLevel,
        StockMovement,
    )
    from oms.calendar import start_of_day

    today = timezone.localdate()
    names = list(_rates(random.Random(0)))
    truth: dict[str, dict[int, float]] = {name: {} for name in names}
    with transaction.atomic():
        StockMovement.objects.filter(stock__location__code__startswith="TR-").delete()
        DemandForecast.objects.all().delete()
        LocationDemandProfile.objects.all().delete()
        StockLevel.objects.filter(location__code__startswith="TR-").delete()
        Location.objects.filter(code__startswith="TR-").delete()
        Product.objects.filter(sku__startswith="TR-").delete()
        places = {
            name: Location.objects.create(
                code=name, name=f"Trend bench {name}", kind="store", city="São Paulo", state="SP",
                cep="01310100", lat=-23.56, lon=-46.65,
            )
            for name in names
        }  # fmt: skip
        products = Product.objects.bulk_create(
            Product(sku=f"TR-{n:04d}", ean=f"79{n:011d}", name=f"Trend {n}", weight_g=300, price="10.00")
            for n in range(ROWS)
        )
        rng = random.Random(20261127)
        movements = []
        for product in products:
            rates = _rates(rng)
            for name, (rate, expected) in rates.items():
                row = StockLevel.objects.create(location=places[name], product=product, on_hand=100)
                truth[name][row.pk] = sum(expected(-k) for k in range(7)) / 7
                for age in range(1, DAYS + 1):
                    day = today - dt.timedelta(days=age)
                    units = _poisson(rng, rate(age) * WEEK[day.weekday()])
                    if units:
                        movements.append(
                            StockMovement(
                                stock=row, kind=MovementKind.COMMIT, on_hand_delta=-units,
                                reserved_delta=-units, on_hand_after=100, reserved_after=0, reason="bench",
                                ref="trend-bench",
                            )
                        )  # fmt: skip
                        movements[-1].day = day  # type: ignore[attr-defined]
        made = StockMovement.objects.bulk_create(movements, batch_size=5000)
        for movement in made:  # `at` is auto_now_add: dated afterwards, at noon of its day
            movement.at = start_of_day(movement.day) + dt.timedelta(hours=12)  # type: ignore[attr-defined]
        StockMovement.objects.bulk_update(made, ["at"], batch_size=5000)
    return truth


def main() -> None:
    import django

    sys.path.insert(0, str(ROOT / "bench"))
    from api_orders import ensure_database

    ensure_database(os.environ["DATABASE_URL"])
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True, env=os.environ
    )
    django.setup()

    from inventory.models import DemandForecast, LocationDemandProfile
    from inventory.services import forecast

    t0 = time.perf_counter()
    truth = fill()
    print(f"filled {len(truth)} locations × {ROWS} rows × {DAYS} days in {time.perf_counter() - t0:.0f} s")
    keep = forecast.TREND_MIN_UNITS
    for label, min_units in (("without the trend", 10**12), ("with the damped trend", keep)):
        forecast.TREND_MIN_UNITS = min_units
        t0 = time.perf_counter()
        forecast.forecast_refresh()
        took = time.perf_counter() - t0
        print(f"\n{label} ({took:.2f} s):")
        print("  location   | wape  | bias   | day_wape | vs next week | rows with a trend (up/down)")
        profiles = {p.location.code: p for p in LocationDemandProfile.objects.select_related("location")}
        for code, rows in truth.items():
            made = DemandForecast.objects.filter(stock__location__code=code).values_list(
                "stock", "daily", "trend"
            )
            p = profiles[code]
            ahead = _off(made, rows)
            up = sum(1 for _s, _d, trend in made if trend > 0)
            down = sum(1 for _s, _d, trend in made if trend < 0)
            print(
                f"  {code:<10} | {p.wape:.3f} | {p.bias:+.3f} | {p.day_wape:.3f}    | {ahead}        | "
                f"{up}/{down} of {len(made)}"
            )
    forecast.TREND_MIN_UNITS = keep


def _off(made: object, truth: dict[int, float]) -> str:
    """The stored rates' absolute error against the true rates of the coming week, as a share of them."""
    rates = {stock: float(daily) for stock, daily, _trend in made}  # type: ignore[attr-defined]
    error = sum(abs(rates.get(stock, 0.0) - rate) for stock, rate in truth.items())
    return f"{error / sum(truth.values()):.3f}"


if __name__ == "__main__":
    main()
