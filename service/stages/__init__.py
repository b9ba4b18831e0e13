"""The stages of the detector pipeline, one module each, in the order they run.

decode → validate → quality → grade → track → alert. `service.pipeline`
assembles them; a stage that drops an item always says why.
"""
