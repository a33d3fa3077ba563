"""Z3 checks of the paper's theorems and the parameter checker."""
