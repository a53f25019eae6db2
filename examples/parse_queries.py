"""Using the query language from Python: parse, inspect, render, handle errors."""

from attune.query import QueryError, parse, render

q = parse('genre:soul energy<0.4 like:playlist("Sunday Morning") -artist:"Al Green" limit:50')
print("canonical:", render(q))
print("filter:   ", q.where)
print("likes:    ", q.likes)
print("options:  ", q.options)

for text in ["energey<0.4", "limit:-3"]:
    try:
        parse(text)
    except QueryError as err:
        print(f"\n{err}")
        print("position:", err.position, "expected:", err.expected)
