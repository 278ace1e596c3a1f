"""Photo -> faces -> candidates, in one place.

    engine/         decode (the only image decoder), orient, quality, detect, encode (SFace/YuNet, dlib)
    index/          the gallery index: top-k search, incremental refresh, shards
    photos.py       one photo's background processing: normalise, analyse, write faces, queue matching
    faces.py        face rows of a photo, the engine in use, the face chosen for matching
    candidates.py   search the index, fuse with the evidence, upsert CandidateMatch rows
    evidence.py     bridge from case/report records to the domain's score fusion and thresholds
    sealed.py       AES-GCM sealing of face templates (no Flask, no SQL)
    templates.py    the encrypted `face_template` rows: write, open in memory, erase, re-key
    enrolment.py    legal basis on record and the face search counted when a face is enrolled

Depends only on domain/, models/, media, tasking and the audit trail: no Flask views, no Celery tasks.
"""
