package demodata

import "math/rand/v2"

// sentiment is how an answer feels, which decides what its comment is about.
type sentiment int

const (
	negative sentiment = iota
	neutral
	positive
)

// sentimentOf reads a score on its survey's scale: NPS detractors,
// passives and promoters; 1-2, 3 and 4-5 on 1-5; 1-3, 4-5 and 6-7 on the
// 1-7 effort scale.
func sentimentOf(survey string, score int) sentiment {
	switch survey {
	case "nps":
		return bucket(score, 6, 8)
	case "ces":
		return bucket(score, 3, 5)
	default:
		return bucket(score, 2, 3)
	}
}

func bucket(score, negativeMax, neutralMax int) sentiment {
	switch {
	case score <= negativeMax:
		return negative
	case score <= neutralMax:
		return neutral
	default:
		return positive
	}
}

// commentShare is the share of rated answers that carry a comment.
const commentShare = 0.45

// episodeThemeShare is the share of unhappy answers about an episode's
// theme while the episode lasts.
const episodeThemeShare = 0.6

var (
	negativeThemes = newCategorical([]string{
		"slow response", "billing confusion", "integration docs",
		"missing features", "bugs", "training gaps",
	}, []float64{1, 1, 1, 1, 1, 1})
	neutralThemes = newCategorical([]string{
		"pricing", "feature request", "user interface",
	}, []float64{1, 1, 1})
	positiveThemes = newCategorical([]string{
		"great support", "easy setup", "reliable product", "helpful onboarding",
	}, []float64{1, 1, 1, 1})
	featureThemes = newCategorical([]string{
		"reporting", "dashboards", "api", "permissions", "mobile app",
	}, []float64{30, 25, 20, 15, 10})
)

var themeComments = map[string][]string{
	"slow response": {
		"Waited two days for a first reply.",
		"Support took far too long to get back to us.",
		"Had to chase the ticket three times before anyone answered.",
	},
	"billing confusion": {
		"The invoice did not match our contract.",
		"Nobody could explain the extra line on our bill.",
	},
	"integration docs": {
		"The API documentation is out of date.",
		"Our engineers could not find how to configure the webhook.",
		"Integration guide skips the authentication step.",
	},
	"missing features": {
		"Still no SSO audit log, which we were promised.",
		"The roadmap keeps slipping on what we need.",
	},
	"bugs": {
		"Exports fail every other day.",
		"The sync drops records silently.",
	},
	"training gaps": {
		"The training did not cover our workflow.",
		"New admins have no material to learn from.",
	},
	"pricing":         {"Fair enough, but pricey for what we use."},
	"feature request": {"Would love bulk editing.", "Please add a Slack integration."},
	"user interface":  {"Works, though the menus take getting used to."},
	"great support": {
		"Support solved it in one call, thank you.",
		"The agent knew exactly what to do.",
	},
	"easy setup":         {"We were live within a week."},
	"reliable product":   {"Has not failed us once this quarter."},
	"helpful onboarding": {"Our onboarding manager was excellent."},
}

// openText draws the theme and, for some answers, a comment. While an
// episode lasts, most unhappy answers name its theme.
func openText(r *rand.Rand, s sentiment, episode *plantedEpisode) (theme, comment string) {
	switch s {
	case negative:
		theme = negativeThemes.draw(r)
		if episode != nil && episode.Theme != "" && r.Float64() < episodeThemeShare {
			theme = episode.Theme
		}
	case neutral:
		theme = neutralThemes.draw(r)
	default:
		theme = positiveThemes.draw(r)
	}
	if options := themeComments[theme]; len(options) > 0 && r.Float64() < commentShare {
		comment = options[r.IntN(len(options))]
	}
	return theme, comment
}

var featureNames = map[string]string{
	"reporting": "Reporting", "dashboards": "Dashboards", "api": "The API",
	"permissions": "Permissions", "mobile app": "The mobile app",
}

// featureComment writes a PSAT comment about the feature for some answers.
func featureComment(r *rand.Rand, feature string, s sentiment) string {
	if r.Float64() >= commentShare {
		return ""
	}
	name := featureNames[feature]
	switch s {
	case negative:
		return name + " is slow and hard to use."
	case neutral:
		return name + " does the job."
	default:
		return name + " saves us hours every week."
	}
}
