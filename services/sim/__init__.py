"""`arb sim`: the venue simulator process (library code in arb.sim)."""
