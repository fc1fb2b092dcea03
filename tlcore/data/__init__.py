"""Images in: reading class folders and zips, decoding, the stored datasets, a run's inputs."""
