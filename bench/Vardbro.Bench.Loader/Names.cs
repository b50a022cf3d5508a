namespace Vardbro.Bench.Loader;

/// <summary>Swedish and Norwegian given names and surnames, with å, ä, ö, ø and æ where they belong.</summary>
internal static class Names
{
    public static readonly string[] Female =
    [
        "Anna", "Eva", "Maria", "Karin", "Kristina", "Lena", "Sara", "Emma", "Ingrid", "Elin",
        "Åsa", "Märta", "Linnéa", "Maja", "Elsa", "Astrid", "Ebba", "Wilma", "Alva", "Saga",
        "Ingegärd", "Birgitta", "Margareta", "Gunnel", "Ulla", "Agneta", "Marie", "Britt", "Sofia", "Ida",
        "Åse", "Solveig", "Kjersti", "Ragnhild", "Sigrid", "Tone", "Liv", "Marte", "Ingvild", "Bodil",
        "Hanne", "Gro", "Siri", "Synnøve", "Torunn", "Jorunn", "Frøya", "Øydis", "Dagny", "Hedda",
        "Louise", "Hélène", "Zoë",
    ];

    public static readonly string[] Male =
    [
        "Lars", "Anders", "Johan", "Per", "Erik", "Karl", "Nils", "Mikael", "Jan", "Hans",
        "Björn", "Göran", "Håkan", "Jörgen", "Östen", "Sören", "Åke", "Örjan", "Stig", "Gösta",
        "Oskar", "Hugo", "Viktor", "Axel", "Ludvig", "Olle", "Sixten", "Melker", "Albin", "Elis",
        "Bjørn", "Søren", "Øystein", "Ørjan", "Jørgen", "Håvard", "Pål", "Tor", "Trygve", "Sindre",
        "Ole", "Knut", "Geir", "Arne", "Eirik", "Magnus", "Sverre", "Kåre", "Halvor", "Asbjørn",
        "André", "José",
    ];

    public static readonly string[] Last =
    [
        "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson", "Gustafsson",
        "Pettersson", "Jonsson", "Jansson", "Hansson", "Bengtsson", "Jönsson", "Lindberg", "Jakobsson", "Magnusson", "Lindström",
        "Olofsson", "Lindqvist", "Lindgren", "Berg", "Axelsson", "Bergström", "Lundberg", "Lind", "Lundgren", "Lundqvist",
        "Mattsson", "Berglund", "Fredriksson", "Sandberg", "Henriksson", "Forsberg", "Sjöberg", "Wallin", "Engström", "Eklund",
        "Danielsson", "Lundin", "Håkansson", "Björk", "Bergman", "Gunnarsson", "Holm", "Wikström", "Samuelsson", "Isaksson",
        "Fransson", "Bergqvist", "Nyström", "Holmberg", "Arvidsson", "Löfgren", "Söderberg", "Nyberg", "Blomqvist", "Claesson",
        "Nordström", "Mårtensson", "Lundström", "Åberg", "Öberg", "Ström", "Hägg", "Bäckström", "Åström", "Öhman",
        "Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Kristiansen", "Jensen", "Karlsen",
        "Johnsen", "Pettersen", "Eriksen", "Bakken", "Haugen", "Hagen", "Johannessen", "Andreassen", "Jacobsen", "Dahl",
        "Jørgensen", "Halvorsen", "Sæther", "Ødegård", "Løvås", "Børresen", "Grønlund", "Østby", "Aasgård", "Strøm",
    ];

    public static readonly string[] Cities =
    [
        "Stockholm", "Göteborg", "Malmö", "Uppsala", "Västerås", "Örebro", "Linköping", "Helsingborg", "Jönköping", "Norrköping",
        "Umeå", "Luleå", "Gävle", "Borås", "Södertälje", "Växjö", "Östersund", "Skövde",
    ];

    public static readonly string[] NorwegianCities = ["Oslo", "Bergen", "Trondheim", "Stavanger", "Tromsø", "Bodø", "Ålesund", "Fredrikstad"];

    public static readonly string[] Streets =
    [
        "Storgatan", "Drottninggatan", "Kungsgatan", "Skolgatan", "Järnvägsgatan", "Ringvägen", "Åsgatan", "Björkvägen", "Södra vägen", "Östra Långgatan",
    ];

    public static readonly string[] NorwegianStreets = ["Storgata", "Kirkegata", "Bjørnstjerne Bjørnsons gate", "Sørlandsveien", "Havnegata", "Tønsberggata"];

    public static readonly string[] Practitioners =
    [
        "Karin Berg", "Anders Lind", "Sofia Åberg", "Johan Öhman", "Maria Sjöberg", "Erik Ström", "Eva Lindqvist", "Per Hägg", "Lena Bäckström", "Nils Löfgren",
    ];
}
