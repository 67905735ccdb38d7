"""gradwire's neural networks: neurons, layers and MLPs built from `autodiff.Value`."""
