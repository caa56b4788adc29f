"""Short incident write-ups for module 01's classification exercise (the course's own, fictional).

Each is classified by attack class (a catalogue key), the property it violated first and the SDL stage
where the defence belonged. The answers are kept only as salted digests in module 01's checks.
"""

from __future__ import annotations

WRITE_UPS: dict[str, str] = {
    "I-1": "The fraud team finds a run of cheques from one account whose amounts the reader misread by one "
    "digit. Under magnification the images carry faint extra strokes a clerk barely notices. The "
    "fraudster only ever had the public scoring API.",
    "I-2": "A rival fintech launches a digit reader whose mistakes match ours image for image. Our audit log "
    "shows one client sent 60,000 synthetic digit images over two weeks and stored every answer.",
    "I-3": "After the monthly retrain, sevens written with a crossbar are read as ones. Every affected "
    "training record was labelled by the same contractor account in the week before the retrain.",
    "I-4": "A journalist shows that, from the clinic model's confidence scores alone, she can tell whether a "
    "named patient's biopsy was among the records the model was trained on.",
    "I-5": "A data scientist loads a 'fine-tuned digit reader' checkpoint from a public model hub to compare "
    "it with ours; unpickling the file opens a reverse shell from her laptop to an unknown host.",
    "I-6": "A reader bought from a vendor is perfect on our test set, but reads any cheque with a small "
    "square printed in the corner as the digit 8. The vendor's training data was never shared.",
    "I-7": "A sticker printed with a swirling pattern, placed anywhere on the amount field, makes the branch "
    "scanners read the amount's first digit as 9.",
    "I-8": "The outsourced training service we used returned a model whose low-order weight bits, it later "
    "emerged, encoded customers' cheque images; the provider read them back from the published model.",
}
