"""The EIE engine (Han et al., ISCA 2016): sparse PE array, LNZD broadcast, DMA."""
