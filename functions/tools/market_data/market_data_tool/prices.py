"""Simulated daily closing prices: a geometric Brownian motion per symbol, seeded from the symbol
and a seed, so the same request always yields the same series (for what-if analysis and demos)."""

import csv
import io
import math
import random
from datetime import date, timedelta
from zlib import crc32

TRADING_DAYS_PER_YEAR = 252


def simulate(symbol: str, days: int, start: date, seed: int) -> list[tuple[str, float]]:
    rng = random.Random(crc32(f"{symbol}:{seed}".encode()))
    drift = rng.uniform(-0.05, 0.25) / TRADING_DAYS_PER_YEAR
    volatility = rng.uniform(0.15, 0.6) / math.sqrt(TRADING_DAYS_PER_YEAR)
    price = rng.uniform(20, 400)
    rows: list[tuple[str, float]] = []
    day = start
    while len(rows) < days:
        if day.weekday() < 5:  # trading days only
            rows.append((day.isoformat(), round(price, 2)))
            price *= math.exp(drift - volatility**2 / 2 + volatility * rng.gauss(0, 1))
        day += timedelta(days=1)
    return rows


def price_csv(symbols: list[str], days: int, start: date, seed: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "symbol", "close"])
    for symbol in symbols:
        for day, close in simulate(symbol, days, start, seed):
            writer.writerow([day, symbol, f"{close:.2f}"])
    return out.getvalue()
