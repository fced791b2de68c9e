"""Writing sessions out: JSON and CSV (``tabular``) and EDF+ (``edf``)."""
