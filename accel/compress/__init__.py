"""Compression passes on trained graphs: pruning (``prune``), weight sharing (``share``), binarization
(``binarize``) and the size/accuracy report (``report``)."""
