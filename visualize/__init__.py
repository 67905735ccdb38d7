"""gradwire's pictures: Graphviz diagrams of a graph, and the step-by-step backprop page."""
