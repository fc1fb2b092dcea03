"""The networks: the catalog, building and freezing them, pretrained weights, the ensemble, bundles."""
