"""The ``tso3`` subcommands that are more than a call into the library.

:mod:`tso3.cli` parses the arguments and reports; a module here does the work of one
command (checking its settings, planning and writing its outputs) from the stages.
"""
