"""PubMed baseline/update *.xml(.gz) -> one part per file (records, citation index, deletions, stats).

extract_pubmed (`extract pubmed`) runs pubmed_part per file: the decompressed stream (common.streams) is
cut into records at the byte level (record_splitter), each record is parsed on its own (safe_xml) and
read by pubmed_citation; stages.resolve then applies the update/delete/version rules across parts.
"""
