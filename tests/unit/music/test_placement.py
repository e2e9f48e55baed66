"""The shipped valence-arousal model: places within the plane; mood words pull."""

from __future__ import annotations

from moodpi.music.analysis.placement import PlacementModel


def test_the_shipped_model_places_within_the_plane_and_mood_words_pull() -> None:
    model = PlacementModel.load()
    vector = {"rms_db_mean": -8.0, "rms_db_median": -8.0, "centroid_log": 11.5}
    place = model.place(vector)
    assert -1 <= place.valence <= 1 and -1 <= place.arousal <= 1 and 0 <= place.confidence <= 1
    assert place.evidence == "audio"
    from moodpi.music.analysis.tag_evidence import TagEvidence

    sad = TagEvidence((), (-0.7, -0.4), 3, None, "", "")
    pulled = model.place(vector, sad)
    assert pulled.valence < place.valence and pulled.evidence == "audio+mood"
    genre = model.place(vector, TagEvidence(("Rap",), None, 0, None, "", ""))
    assert genre.evidence == "audio+genre"
