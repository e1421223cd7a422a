"""Stories: which entries report the same news, across feeds and outlets. Pure: a
headline's profile (headline.py), the verdict on two profiles (compare.py) and an index
of recent stories that finds candidates without comparing against every one (index.py).
The engine, the store and the adapters decide what an alert does with a verdict."""
