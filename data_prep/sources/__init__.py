"""Sources: NLM files -> records (the record contract, docs/CONTRACTS.md).

download fetches PubMed and PMC files; pubmed/ and pmc/ turn them into records.  Both parse XML only
through safe_xml (no DTD, no entities, no network) and flatten inline markup with inline_text.
"""
