"""The class report (`backprop-lab report ASSIGNMENT`): misconceptions, similar submissions, reference copies.

`build.write_report` is the entry point; `tables` reads the stored check results, `answers` the
submitted cells, `similarity` compares them (copydetect), `figures` and `page` draw the HTML page.
"""
