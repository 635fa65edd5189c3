"""Hand-written "implies" lists: which ImageNet classes, when predicted, mean an object is there.

An ImageNet classifier names one thing per image, and in its own vocabulary (ImageNet's 1000
WordNet leaves: "tabby", "Egyptian cat", "espresso"), while questions ask about everyday
objects ("cat", "cup", "person": mostly the 80 COCO categories POPE draws from). A sentence
embedder alone bridges the two badly: all-MiniLM-L6-v2 puts "dog" closer to "dogsled" and
"hotdog" than to "beagle", "tiger" next to "tiger cat", "motorcycle" nearer "jeep" than
"moped". So, as WordNet's hypernym tree would, these lists say which classes *imply* an object:
every dog breed implies "dog", "espresso" (always served in one) implies "cup", an "academic
gown" or a "military uniform" implies a "person" wearing it. Objects without a list here fall
back to embedding similarity (see ``tagger.py``).

Items are class names, inclusive index ranges ``(first, last)`` of the ImageNet order, or
``"@group"`` to include another group. ``tests/test_reference_models.py`` checks that every name
exists. Keys are singular lowercase nouns; ``ALIASES`` maps plurals and synonyms onto them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Union

from .imagenet import class_names, index_of

Item = Union[str, "tuple[int, int]"]

GROUPS: dict[str, tuple[Item, ...]] = {
    # ---- living things (ImageNet indices 0-397 are animals) -----------------------------
    "animal": ((0, 397),),
    "fish": ((0, 6), (389, 397)),
    "shark": ("great white shark", "tiger shark", "hammerhead"),
    "bird": ((7, 24), (80, 100), (127, 146)),
    "chicken": ("cock", "hen"),
    "duck": ("drake", "red-breasted merganser"),
    "owl": ("great grey owl",),
    "eagle": ("bald eagle",),
    "parrot": ("African grey", "macaw", "sulphur-crested cockatoo", "lorikeet"),
    "penguin": ("king penguin",),
    "frog": ("bullfrog", "tree frog", "tailed frog"),
    "turtle": ((33, 37),),
    "lizard": ((38, 48),),
    "crocodile": ("African crocodile", "American alligator"),
    "snake": ((52, 68),),
    "spider": ((72, 77),),
    "insect": ((300, 326),),
    "bug": ((300, 326),),
    "beetle": ((300, 307),),
    "bee": ("bee",),
    "ant": ("ant",),
    "butterfly": ((321, 326),),
    "crab": ((118, 121), "hermit crab"),
    "lobster": ("American lobster", "spiny lobster", "crayfish"),
    "whale": ("grey whale", "killer whale"),
    "dog": ((151, 268),),
    "puppy": ((151, 268),),
    "wolf": ("timber wolf", "white wolf", "red wolf", "coyote"),
    "fox": ((277, 280),),
    "cat": ("tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"),
    "big cat": ((286, 293),),
    "lion": ("lion",),
    "tiger": ("tiger",),
    "leopard": ("leopard", "snow leopard", "jaguar", "cheetah"),
    "bear": ((294, 297),),
    "panda": ("giant panda", "lesser panda"),
    "rabbit": ("wood rabbit", "hare", "Angora"),
    "squirrel": ("fox squirrel",),
    "horse": ("sorrel", "horse cart"),
    "zebra": ("zebra",),
    "pig": ("hog", "wild boar", "warthog"),
    "cow": ("ox", "water buffalo", "bison"),
    "sheep": ("ram", "bighorn"),
    "goat": ("ibex",),
    "camel": ("Arabian camel",),
    "elephant": ("tusker", "Indian elephant", "African elephant"),
    "monkey": ((365, 384),),
    "ape": ("orangutan", "gorilla", "chimpanzee", "gibbon", "siamang"),
    "flower": ("daisy", "yellow lady's slipper", "rapeseed"),
    "mushroom": ((991, 997), "mushroom"),
    "fruit": ((948, 957), "strawberry", "hip", "buckeye", "acorn"),
    "vegetable": ((936, 947),),
    "plant": ("@flower", "@mushroom", "@fruit", "@vegetable", "pot", "corn", "ear", "hay",
              "greenhouse"),
    # ---- people: ImageNet has few person classes, but many things only people wear ------
    "person": ("ballplayer", "groom", "scuba diver", "abaya", "academic gown", "apron",
               "bathing cap", "bearskin", "bikini", "bolo tie", "bow tie", "brassiere",
               "bulletproof vest", "cardigan", "cloak", "cowboy hat", "crash helmet", "cuirass",
               "feather boa", "football helmet", "fur coat", "gasmask", "gown", "hoopskirt",
               "jean", "jersey", "kimono", "lab coat", "maillot", "maillot tank suit",
               "military uniform", "miniskirt", "mortarboard", "neck brace", "overskirt",
               "oxygen mask", "pajama", "pickelhaube", "poncho", "sarong", "ski mask",
               "sombrero", "stole", "suit", "sweatshirt", "swimming trunks", "trench coat",
               "vestment", "wig", "Windsor tie"),
    "hat": ("cowboy hat", "sombrero", "mortarboard", "bonnet", "shower cap", "bathing cap",
            "bearskin", "pickelhaube"),
    "helmet": ("football helmet", "crash helmet", "pickelhaube"),
    "glasses": ("sunglass", "sunglasses"),
    "tie": ("bow tie", "Windsor tie", "bolo tie"),
    "shoe": ("running shoe", "Loafer", "clog", "cowboy boot", "sandal"),
    "coat": ("fur coat", "trench coat", "lab coat", "cloak", "poncho"),
    "dress": ("gown", "hoopskirt", "overskirt", "miniskirt", "kimono", "abaya"),
    "uniform": ("military uniform", "jersey"),
    # ---- vehicles ----------------------------------------------------------------------
    "bicycle": ("bicycle-built-for-two", "mountain bike", "tricycle", "unicycle"),
    "car": ("ambulance", "beach wagon", "cab", "convertible", "jeep", "limousine", "minivan",
            "Model T", "police van", "racer", "sports car", "car wheel", "grille",
            "car mirror"),
    "motorcycle": ("moped", "motor scooter"),
    "airplane": ("airliner", "warplane", "wing"),
    "helicopter": (),
    "bus": ("school bus", "trolleybus", "minibus"),
    "train": ("bullet train", "electric locomotive", "steam locomotive", "freight car",
              "passenger car", "streetcar"),
    "truck": ("fire engine", "garbage truck", "moving van", "tow truck", "trailer truck",
              "pickup", "police van", "snowplow", "tractor"),
    "boat": ("aircraft carrier", "canoe", "catamaran", "container ship", "fireboat", "gondola",
             "lifeboat", "liner", "paddlewheel", "pirate", "schooner", "speedboat", "submarine",
             "trimaran", "yawl", "wreck", "paddle"),
    "ship": ("aircraft carrier", "container ship", "liner", "pirate", "schooner", "wreck"),
    "vehicle": ("@bicycle", "@car", "@motorcycle", "@airplane", "@bus", "@train", "@truck",
                "@boat", "go-kart", "golfcart", "snowmobile", "tank", "half track",
                "recreational vehicle", "mobile home", "horse cart", "oxcart", "jinrikisha",
                "dogsled", "bobsled", "forklift", "harvester", "thresher"),
    "rocket": ("missile", "projectile", "space shuttle"),
    # ---- street and outdoors ------------------------------------------------------------
    "traffic light": ("traffic light",),
    "stop sign": ("street sign",),
    "parking meter": ("parking meter",),
    "bench": ("park bench",),
    "fence": ("chainlink fence", "picket fence", "worm fence", "stone wall"),
    "bridge": ("steel arch bridge", "suspension bridge", "viaduct"),
    "building": ("apiary", "bakery", "barbershop", "barn", "bell cote", "boathouse",
                 "bookshop", "butcher shop", "castle", "church", "cinema", "cliff dwelling",
                 "confectionery", "dome", "greenhouse", "grocery store", "library",
                 "lumbermill", "monastery", "mosque", "palace", "planetarium", "prison",
                 "restaurant", "shoe shop", "stupa", "tobacco shop", "toyshop", "yurt",
                 "mobile home", "boathouse", "thatch", "tile roof", "water tower", "beacon"),
    "house": ("@building",),
    "tower": ("water tower", "beacon", "bell cote", "mosque", "stupa", "totem pole",
              "obelisk"),
    "lake": ("lakeside",),
    "sea": ("seashore", "sandbar", "coral reef", "promontory", "breakwater"),
    "beach": ("seashore", "sandbar"),
    "mountain": ("alp", "volcano", "valley", "cliff"),
    "water": ("lakeside", "seashore", "sandbar", "coral reef", "breakwater", "dam",
              "fountain", "geyser", "speedboat", "canoe", "scuba diver"),
    "river": ("lakeside", "dam"),
    "snow": ("alp", "ski", "snowmobile", "snowplow", "dogsled", "bobsled"),
    "wall": ("stone wall",),
    # scene "stuff" no ImageNet class implies (and whose names the embedder confuses with
    # "tree frog", "leafhopper", "grasshopper"): the tagger cannot see them and says no
    "tree": (),
    "leaf": (),
    "grass": (),
    "sky": (),
    "cloud": (),
    "road": (),
    "street": (),
    "floor": (),
    "ground": (),
    "umbrella": ("umbrella",),
    "tent": ("mountain tent", "yurt"),
    # ---- sports and leisure -------------------------------------------------------------
    "sports ball": ("baseball", "basketball", "croquet ball", "golf ball", "ping-pong ball",
                    "rugby ball", "soccer ball", "tennis ball", "volleyball"),
    "ball": ("@sports ball",),
    "skis": ("ski",),
    "tennis racket": ("racket",),
    "kite": (),
    "backpack": ("backpack",),
    "handbag": ("purse", "mailbag"),
    "bag": ("backpack", "purse", "mailbag", "plastic bag", "sleeping bag"),
    "guitar": ("acoustic guitar", "electric guitar"),
    "piano": ("grand piano", "upright"),
    # ---- kitchen and table ---------------------------------------------------------------
    "bottle": ("beer bottle", "pill bottle", "pop bottle", "water bottle", "wine bottle",
               "whiskey jug"),
    "wine glass": ("goblet", "red wine"),
    "glass": ("beer glass", "goblet", "red wine"),
    "cup": ("cup", "coffee mug", "espresso", "measuring cup", "eggnog"),
    "mug": ("coffee mug",),
    "coffee": ("espresso", "coffee mug", "coffeepot", "espresso maker"),
    "tea": ("teapot",),
    "spoon": ("wooden spoon", "ladle"),
    "knife": ("cleaver",),
    "fork": (),
    "bowl": ("mixing bowl", "soup bowl", "consomme", "hot pot", "guacamole", "trifle"),
    "plate": ("plate",),
    "pot": ("caldron", "Crock Pot", "Dutch oven", "hot pot", "teapot", "coffeepot", "wok"),
    "pan": ("frying pan", "wok"),
    "banana": ("banana",),
    "apple": ("Granny Smith",),
    "orange": ("orange",),
    "lemon": ("lemon",),
    "strawberry": ("strawberry",),
    "broccoli": ("broccoli",),
    "hot dog": ("hotdog",),
    "pizza": ("pizza",),
    "sandwich": ("cheeseburger", "hotdog"),
    "burger": ("cheeseburger",),
    "bread": ("French loaf", "bagel", "pretzel", "dough"),
    "cake": ("trifle",),
    "ice cream": ("ice cream", "ice lolly", "chocolate sauce"),
    "food": ((923, 969), "@fruit", "@vegetable", "mushroom", "corn"),
    "drink": ("espresso", "red wine", "eggnog", "cup", "coffee mug", "beer glass", "goblet",
              "@bottle"),
    # ---- furniture and home ---------------------------------------------------------------
    "chair": ("barber chair", "folding chair", "rocking chair", "throne"),
    "couch": ("studio couch",),
    "bed": ("four-poster", "crib", "cradle", "bassinet", "studio couch", "quilt"),
    "table": ("dining table", "desk", "pool table", "patio"),
    "desk": ("desk",),
    "potted plant": ("pot",),
    "vase": ("vase",),
    "lamp": ("table lamp", "lampshade", "spotlight", "candle", "torch"),
    "toilet": ("toilet seat",),
    "sink": ("washbasin",),
    "bathtub": ("bathtub", "tub"),
    "refrigerator": ("refrigerator",),
    "microwave": ("microwave",),
    "oven": ("Dutch oven", "stove", "rotisserie"),
    "toaster": ("toaster",),
    "clock": ("analog clock", "digital clock", "wall clock", "stopwatch"),
    "watch": ("digital watch", "analog clock", "stopwatch"),
    "book": ("book jacket", "comic book", "bookcase", "library", "bookshop", "binder"),
    "teddy bear": ("teddy",),
    "hair drier": ("hand blower",),
    "scissors": (),
    "toothbrush": (),
    # COCO categories ImageNet has no class for: "no", rather than an embedding's guess
    "fire hydrant": (),
    "giraffe": (),
    "suitcase": (),
    "frisbee": (),
    "snowboard": (),
    "baseball bat": (),
    "baseball glove": (),
    "skateboard": (),
    "surfboard": (),
    "carrot": (),
    "window": ("window screen", "window shade", "shoji"),
    "door": ("sliding door",),
    "curtain": ("shower curtain", "theater curtain", "window shade"),
    "pillow": ("pillow",),
    "blanket": ("quilt",),
    "furniture": ("@chair", "@couch", "@bed", "@table", "bookcase", "china cabinet",
                  "chiffonier", "wardrobe", "entertainment center", "medicine chest",
                  "chest", "cradle", "park bench"),
    # ---- electronics --------------------------------------------------------------------
    "tv": ("television", "monitor", "screen", "home theater"),
    "monitor": ("monitor", "screen", "desktop computer"),
    "laptop": ("laptop", "notebook"),
    "computer": ("laptop", "notebook", "desktop computer", "hand-held computer", "monitor"),
    "mouse": ("mouse",),
    "remote": ("remote control",),
    "keyboard": ("computer keyboard", "typewriter keyboard", "space bar"),
    "cell phone": ("cellular telephone", "hand-held computer", "iPod"),
    "phone": ("cellular telephone", "dial telephone", "pay-phone"),
    "camera": ("reflex camera", "Polaroid camera", "lens cap"),
    # ---- tools and misc ----------------------------------------------------------------
    "flag": ("flagpole",),
    "gun": ("assault rifle", "rifle", "revolver", "cannon"),
    "hammer": ("hammer",),
    "candle": ("candle",),
    "balloon": ("balloon", "airship"),
}

#: plurals, synonyms and common names -> a ``GROUPS`` key
ALIASES: dict[str, str] = {
    "people": "person", "persons": "person", "man": "person", "men": "person",
    "woman": "person", "women": "person", "boy": "person", "girl": "person", "child": "person",
    "children": "person", "kid": "person", "kids": "person", "human": "person",
    "humans": "person", "lady": "person", "gentleman": "person", "player": "person",
    "astronaut": "person", "soldier": "person", "officer": "person", "someone": "person",
    "kitten": "cat", "kitty": "cat", "doggy": "dog", "puppies": "puppy", "hamster": "animal",
    "motorbike": "motorcycle", "motor bike": "motorcycle", "dirt bike": "motorcycle", "scooter": "motorcycle",
    "moped": "motorcycle",
    "bike": "bicycle", "aeroplane": "airplane", "plane": "airplane", "jet": "airplane",
    "aircraft": "airplane", "automobile": "car", "taxi": "car",
    "sofa": "couch", "television": "tv", "tv monitor": "tv", "tvmonitor": "tv",
    "mobile phone": "cell phone", "cellphone": "cell phone", "smartphone": "cell phone",
    "telephone": "phone", "dining table": "table", "diningtable": "table",
    "pottedplant": "potted plant", "houseplant": "potted plant", "eyeglasses": "glasses",
    "spectacles": "glasses", "sunglasses": "glasses", "necktie": "tie", "cap": "hat",
    "football": "sports ball", "soccer ball": "sports ball",
    "baseball": "sports ball", "basketball": "sports ball", "tennis ball": "sports ball",
    "racket": "tennis racket", "racquet": "tennis racket", "ski": "skis",
    "purse": "handbag", "teddy": "teddy bear", "hairdryer": "hair drier",
    "hair dryer": "hair drier", "missile": "rocket", "spaceship": "rocket",
    "spacecraft": "rocket", "space rocket": "rocket", "espresso": "coffee",
    "doughnut": "cake", "donut": "cake", "hotdog": "hot dog", "cheeseburger": "burger",
    "hamburger": "burger", "daisy": "flower", "blossom": "flower", "bloom": "flower",
    "lighthouse": "tower", "temple": "building", "church": "building", "castle": "building",
    "palace": "building", "pagoda": "building", "architecture": "building",
    "home": "house", "wineglass": "wine glass", "drinking glass": "glass",
    "beverage": "drink", "meal": "food", "dish": "food", "sailboat": "boat",
    "canoe": "boat", "yacht": "boat", "laptop computer": "laptop", "notebook": "laptop",
    "pc": "computer", "screen": "monitor", "display": "monitor", "kitchen table": "table",
    "fridge": "refrigerator",
    "stove": "oven", "washbasin": "sink", "lorry": "truck", "van": "truck",
    "locomotive": "train", "tram": "train", "pigeon": "bird",
    "seagull": "bird", "gull": "bird", "puppy dog": "dog", "hound": "dog",
}

_IRREGULAR_SINGULAR = {"mice": "mouse", "geese": "goose", "feet": "foot", "teeth": "tooth",
                       "knives": "knife", "leaves": "leaf", "wolves": "wolf",
                       "shelves": "shelf", "sheep": "sheep", "fish": "fish", "skis": "skis",
                       "glasses": "glasses", "scissors": "scissors", "bus": "bus",
                       "grass": "grass", "glass": "glass", "jeans": "jean"}


def singular(word: str) -> str:
    """A crude English singular, enough for object nouns ("dogs", "buses", "berries")."""
    if word in _IRREGULAR_SINGULAR:
        return _IRREGULAR_SINGULAR[word]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes", "zes", "uses")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def canonical(phrase: str) -> str | None:
    """The ``GROUPS`` key a phrase names, trying it whole, singular, then its head noun."""
    phrase = " ".join(phrase.lower().replace("-", " ").split())
    if not phrase:
        return None
    words = phrase.split()
    tries = [phrase, " ".join(words[:-1] + [singular(words[-1])])]
    if len(words) > 1:  # "red car" -> "car", "cup of coffee" -> "cup"
        for cut in (" of ", " with ", " on ", " in ", " at ", " near ", " next to "):
            if cut in f" {phrase} ":
                tries.append(phrase.split(cut.strip(), 1)[0].strip())
        tries += [" ".join(words[-2:]), words[-1], singular(words[-1])]
    for t in tries:
        if t in GROUPS:
            return t
        if t in ALIASES:
            return ALIASES[t]
    return None


@lru_cache(maxsize=None)
def members(key: str) -> frozenset[int]:
    """The ImageNet class indices a group implies (raises KeyError for unknown names)."""
    index = index_of()
    out: set[int] = set()
    for item in GROUPS[key]:
        if isinstance(item, tuple):
            lo, hi = item
            out.update(range(lo, hi + 1))
        elif item.startswith("@"):
            out |= members(item[1:])
        else:
            out.add(index[item])
    return frozenset(out)


def digest() -> str:
    """A short hash of the lists: part of the tagger's ``version``, so editing a group changes
    the identity of its predictions without anyone remembering to bump a number."""
    import hashlib

    text = repr(sorted(GROUPS.items())) + repr(sorted(ALIASES.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def unknown_names() -> list[str]:
    """Class names in GROUPS that are not ImageNet class names (a test keeps this empty)."""
    names = set(class_names())
    bad = []
    for key, items in GROUPS.items():
        for item in items:
            if isinstance(item, str) and not item.startswith("@") and item not in names:
                bad.append(f"{key}: {item}")
            if isinstance(item, str) and item.startswith("@") and item[1:] not in GROUPS:
                bad.append(f"{key}: {item}")
    for alias, key in ALIASES.items():
        if key not in GROUPS:
            bad.append(f"alias {alias} -> {key}")
    return bad
