"""Many videos in one command (``motionseg-trt run A.mp4 B.mp4 ... --out DIR``): the inputs and the
result folder of each (:mod:`.inputs`), one video's run as a job that never raises (:mod:`.jobs`), jobs
on local processes (:mod:`.local`) or on a Ray cluster (:mod:`.on_ray`), and what is printed
(:mod:`.report`)."""
