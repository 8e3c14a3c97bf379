"""Reproduction of the paper's tables: profiles, the shared runner, reports and table specs.

``python -m dil_optim.training.reproduce table1 ...`` or ``dil-optim reproduce table1 ...``;
the scripts ``benchmarks/reproduce_tableN.py`` of a source checkout are thin entry points.
"""
