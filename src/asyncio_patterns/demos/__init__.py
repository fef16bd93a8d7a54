"""Each lesson's demos, wrong then right, with their plots: one package per topic.

Demos may use ``lab`` and ``patterns``; nothing in those imports a demo.
"""
