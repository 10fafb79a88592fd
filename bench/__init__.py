"""Benchmark of the rendered project: prints ratios measured side by side.

    bench/run [--rounds 5] [--seconds 6] [--only render,health,static,db,page,metrics,workers,memory]

Renders the template into a private directory, starts real PostgreSQL,
Redis, nginx and gunicorn on loopback (the test suite's helpers), and loads
them with wrk. The variants of a group run in the same round, in an order
that rotates from round to round; every figure is the median over rounds,
and every ratio is the median of the ratios of the same round, so that a
machine whose speed drifts still compares like with like. Absolute numbers
are context only: they depend on the machine and on what else runs on it.

Cells are short and rounds many: on a shared machine the load of other
processes drifts within seconds, and the cells a ratio compares run back
to back. This is not a test: it never fails on a slow result, it reports.
"""
