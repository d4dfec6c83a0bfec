"""Trained models shipped with keras-gen-zoo, as package data: see `zoo.shipped`."""
