"""BioMamba: pretrain Mamba language models on biomedical literature, from PubMed XML to a scored BioASQ result."""

__version__ = "0.1.0"
