"""Plumbing for the course *Deep Learning 2012–2020, one notebook at a time*.

Small modules, imported explicitly (no star imports):

* ``params``  validate a lesson's parameters cell
* ``repro``   seeds, device, threads
* ``data``    every data set the lessons use (offline by default)
* ``plot``    curves, image grids, heat maps in one colour-blind-safe style
* ``widgets`` interactive views with a static figure always drawn
* ``judge``   a fixed digit classifier (trained once, cached) and the scores generative lessons report
* ``checks``  exercise checks and milestones
* ``record``  metrics recorded inside the executed notebook
* ``lessons`` the lesson catalogue from notebook metadata
* ``tools``   what runs and publishes the lessons (batch runs, bench, student copies, sync, slides); lessons never import it

The ideas themselves live in the lessons, never here.
"""

__version__ = "0.1.0"
