"""Task-embedding methods f(data, surrogate): TextEmb, FUTE-TaskEmb, FUTE-TuPaTE."""
