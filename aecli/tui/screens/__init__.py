"""The TUI's screens: training (a live run), explorer (the code space), and the quit question.

Each screen owns its widgets: the app binds its ``RunModel`` to the screen, the screen turns
it into reactive attributes bound to its widgets (attributes down), and what needs the app
(a worker, a key that steers training) goes up as a message or an ``app.`` action.
"""
