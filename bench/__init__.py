"""The benchmarks: each script is run from the repository root as ``python -m bench.<name>`` (the usage line of
its docstring gives the options) and ends with ``name=value`` lines, the figures it measured.

A direct ``python bench/<name>.py`` prints that command and exits with status 2: the scripts import
``bench.common`` and ``bench.launch`` as a package. Results go to ``bench/results/`` (not tracked);
run records worth keeping to ``bench/data/``.
"""
