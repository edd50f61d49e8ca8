"""The tasks of the field, one sub-package each: ground truth and prediction schemas, the
standard-format writers and the task's metrics.

``recognition`` (one label per trimmed clip), ``detection`` (labelled segments of untrimmed
videos; mAP at temporal IoU, ActivityNet and THUMOS'14 files) and ``localization`` (actor
boxes with actions per keyframe; frame-mAP and video-mAP, AVA files, the ``random_boxes``
floor). ``_ranking`` holds the ranking and AP helpers the last two share.
"""
