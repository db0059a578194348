"""The DAG processor: parses DAG files into the metadata database."""
