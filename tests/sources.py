"""Recipe `sources:` entries for the sample data shipped in data/, shared by the tests."""

FIQA = {
    "path": "data/finance/fiqa_posts.json",
    "format": "json",
    "text": "sentence",
    "id": "_key",
    "domain": "financial",
}
HEADLINES = {
    "path": "data/finance/semeval2017_task5_headlines.json",
    "format": "json",
    "text": "title",
    "id": "id",
    "domain": "financial",
}
WIKI = {
    "path": "data/wikitext2/wiki_valid_sample.txt",
    "format": "text",
    "split_on": "blank_line",
    "domain": "general",
}
