"""Registry layer: the only code that touches storage (SQL catalogue + FAISS indexes)."""
