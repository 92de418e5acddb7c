"""The data stages: download (sources: GTZAN, gtzan-mini, FMA, your folder, synthetic; fetch,
artists, genres), validate (the manifest, Great Expectations) and split; `tables` reads and
writes the tables these stages hand on (manifest, split, metadata), `audio` decodes files."""
