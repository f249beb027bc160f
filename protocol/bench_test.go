package protocol

import "testing"

// benchMessages are typical CALL and EVENT messages: a request with a
// short positional and keyword payload, and an event fanned out to many
// subscribers.
var benchMessages = []struct {
	name string
	m    Message
}{
	{"type=CALL", &Call{Request: 7814135, Options: Dict{"receive_progress": true}, Procedure: "com.myapp.user.new",
		Args: List{"johnny", 42}, Kwargs: Dict{"firstname": "John", "surname": "Doe"}}},
	{"type=EVENT", &Event{Subscription: 5512315355, Publication: 4429313566, Details: Dict{},
		Args: List{"Hello, world!", map[string]any{"x": 1.5, "y": []any{1, 2, 3}}}}},
}

func BenchmarkFromList(b *testing.B) {
	for _, bm := range benchMessages {
		l, err := ToList(bm.m)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := FromList(l); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkToList(b *testing.B) {
	for _, bm := range benchMessages {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ToList(bm.m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkIDs(b *testing.B) {
	b.Run("gen=global", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				GlobalID()
			}
		})
	})
	b.Run("gen=session", func(b *testing.B) {
		b.ReportAllocs()
		var g SessionIDs
		for b.Loop() {
			g.Next()
		}
	})
}

func BenchmarkCheckURI(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if CheckURI("com.myapp.myobject1.myprocedure1", true) != nil {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkMatchURI(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if !MatchURI("com.myapp..myprocedure1", MatchWildcard, "com.myapp.myobject1.myprocedure1") {
			b.Fatal("no match")
		}
	}
}
