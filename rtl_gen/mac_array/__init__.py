"""The mac_array engine (NVDLA-like int8 convolution): buffer, load unit, sequencer, MAC cells, requantizer."""
