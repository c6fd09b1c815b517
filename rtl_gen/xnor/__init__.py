"""The xnor engine: a FINN-style binary matrix-vector-threshold unit behind the engine shell."""
