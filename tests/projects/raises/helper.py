def build(n: int) -> int:
    return n // 0
