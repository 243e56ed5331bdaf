"""Results: one module per experiment (``results/<experiment>.py``) holding its result class
(a :class:`~luckbook.result.Result`) and the analysis of its stored arrays: the claims'
statistics, summaries, JSON. Nothing here runs during ``compute`` (these modules are not part
of the results cache's key)."""
