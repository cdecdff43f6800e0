"""augmath: augment math training data (MuggleMath), train on it, and measure what it bought you."""

__version__ = "0.1.0"
