"""One module per part of the procedure: plain functions that return data and never print."""
