"""The N-d slice plot (pyqtgraph) and its dims sliders."""
