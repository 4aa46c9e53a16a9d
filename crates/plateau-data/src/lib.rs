//! plateau-data: datasets, upstream/downstream splits, few-shot sampling, and the download + checksum cache (the datasets issue fills it).
