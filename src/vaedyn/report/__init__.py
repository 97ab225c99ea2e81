"""`vaedyn report`: the paper's core findings and the claims table for a model of one's own, as an
executed notebook and one HTML page (`build_report`), from a factory and its weights (`load_model`)."""
from .build import NOTEBOOK, OUTPUTS, ReportFailedError, build_report, publish
from .source import absolute_spec, build_model, load_model, load_weights, parse_model_spec, read_weights
