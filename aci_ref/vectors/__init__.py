"""The oracle: language-neutral test vectors and the differential runner (docs/vectors.md)."""
