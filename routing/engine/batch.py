"""Wave routing (stub)."""
from __future__ import annotations

from .solver import route_order


def route_wave(net, orders, *, policy=None, pricer=None):
    out = []
    for o in orders:
        p = route_order(net, o, policy=policy, prices=pricer, explain=False)
        net.apply_plan(p)
        if pricer is not None:
            pricer.observe(o, p)
        out.append(p)
    return out
