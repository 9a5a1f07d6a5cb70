"""PMC Open Access JATS (.nxml files, folders, tarballs) -> records, one per PMC id.

extract_pmc (`extract pmc`) takes the documents pmc_sources yields, parses each whole (safe_xml),
reads its fields with pmc_article / pmc_text and filters by licence (licenses).
"""
